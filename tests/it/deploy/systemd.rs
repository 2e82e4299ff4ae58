//! The systemd units: a sandboxed oneshot service run by a non-root user with a start timeout,
//! started by a persistent timer at a fixed UK time clear of the clock change.

use super::{assert_clear_of_clock_change, unit_file};

#[test]
fn the_systemd_units_run_a_sandboxed_oneshot_at_a_fixed_uk_time() {
    let service = unit_file("deploy/systemd/sendlake.service");
    assert_eq!(service.one("Service", "Type"), "oneshot", "[Service] Type");
    let user = service.one("Service", "User");
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "User={user}"
    );
    assert!(
        service
            .one("Service", "EnvironmentFile")
            .starts_with("/etc/")
    );
    assert!(
        service
            .all("Service", "Environment")
            .contains(&"MIMALLOC_PURGE_DELAY=-1".to_owned()),
        "Environment=MIMALLOC_PURGE_DELAY=-1"
    );
    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "true"),
        ("PrivateTmp", "true"),
        ("ProtectHome", "true"),
    ] {
        assert_eq!(service.one("Service", key), value, "[Service] {key}");
    }
    assert_ne!(
        service.one("Service", "TimeoutStartSec"),
        "infinity",
        "a hung run must be stopped"
    );

    let timer = unit_file("deploy/systemd/sendlake.timer");
    let on = timer.one("Timer", "OnCalendar");
    let (schedule, zone) = on.rsplit_once(' ').unwrap();
    assert_eq!(zone, "Europe/London", "OnCalendar={on}");
    let time = schedule
        .strip_prefix("*-*-* ")
        .unwrap_or_else(|| panic!("OnCalendar={on}: daily"));
    let hour: u32 = time.split(':').next().unwrap().parse().unwrap();
    assert_clear_of_clock_change("sendlake.timer", hour);
    assert_eq!(
        timer.one("Timer", "Persistent"),
        "true",
        "[Timer] Persistent"
    );
    assert!(!timer.one("Timer", "RandomizedDelaySec").is_empty());
    assert_eq!(
        timer.one("Install", "WantedBy"),
        "timers.target",
        "[Install] WantedBy"
    );
}
