//! Reference data the demo files share: English LA names and regions, and Hertfordshire's
//! districts and quadrants, so every file names the same places the same way.

use crate::{Sen2SimConfig, SimError, la_codes};

/// `(DfE LA code, name, region)` for every English code the simulator hands out
/// ([`crate::la_codes`] and out-of-area placements). Codes of authorities since merged
/// (820 Bedfordshire, 836 Poole, 837 Bournemouth, 875 Cheshire, 909 Cumbria, 928
/// Northamptonshire) keep their old names, as closed establishments do in GIAS.
const ENGLISH_LA_NAMES: [(u16, &str, &str); 154] = [
    (201, "City of London", "London"),
    (202, "Camden", "London"),
    (203, "Greenwich", "London"),
    (204, "Hackney", "London"),
    (205, "Hammersmith and Fulham", "London"),
    (206, "Islington", "London"),
    (207, "Kensington and Chelsea", "London"),
    (208, "Lambeth", "London"),
    (209, "Lewisham", "London"),
    (210, "Southwark", "London"),
    (211, "Tower Hamlets", "London"),
    (212, "Wandsworth", "London"),
    (213, "Westminster", "London"),
    (301, "Barking and Dagenham", "London"),
    (302, "Barnet", "London"),
    (303, "Bexley", "London"),
    (304, "Brent", "London"),
    (305, "Bromley", "London"),
    (306, "Croydon", "London"),
    (307, "Ealing", "London"),
    (308, "Enfield", "London"),
    (309, "Haringey", "London"),
    (310, "Harrow", "London"),
    (311, "Havering", "London"),
    (312, "Hillingdon", "London"),
    (313, "Hounslow", "London"),
    (314, "Kingston upon Thames", "London"),
    (315, "Merton", "London"),
    (316, "Newham", "London"),
    (317, "Redbridge", "London"),
    (318, "Richmond upon Thames", "London"),
    (319, "Sutton", "London"),
    (320, "Waltham Forest", "London"),
    (330, "Birmingham", "West Midlands"),
    (331, "Coventry", "West Midlands"),
    (332, "Dudley", "West Midlands"),
    (333, "Sandwell", "West Midlands"),
    (334, "Solihull", "West Midlands"),
    (335, "Walsall", "West Midlands"),
    (336, "Wolverhampton", "West Midlands"),
    (340, "Knowsley", "North West"),
    (341, "Liverpool", "North West"),
    (342, "St. Helens", "North West"),
    (343, "Sefton", "North West"),
    (344, "Wirral", "North West"),
    (350, "Bolton", "North West"),
    (351, "Bury", "North West"),
    (352, "Manchester", "North West"),
    (353, "Oldham", "North West"),
    (354, "Rochdale", "North West"),
    (355, "Salford", "North West"),
    (356, "Stockport", "North West"),
    (357, "Tameside", "North West"),
    (358, "Trafford", "North West"),
    (359, "Wigan", "North West"),
    (370, "Barnsley", "Yorkshire and The Humber"),
    (371, "Doncaster", "Yorkshire and The Humber"),
    (372, "Rotherham", "Yorkshire and The Humber"),
    (373, "Sheffield", "Yorkshire and The Humber"),
    (380, "Bradford", "Yorkshire and The Humber"),
    (381, "Calderdale", "Yorkshire and The Humber"),
    (382, "Kirklees", "Yorkshire and The Humber"),
    (383, "Leeds", "Yorkshire and The Humber"),
    (384, "Wakefield", "Yorkshire and The Humber"),
    (390, "Gateshead", "North East"),
    (391, "Newcastle upon Tyne", "North East"),
    (392, "North Tyneside", "North East"),
    (393, "South Tyneside", "North East"),
    (394, "Sunderland", "North East"),
    (420, "Isles of Scilly", "South West"),
    (800, "Bath and North East Somerset", "South West"),
    (801, "Bristol, City of", "South West"),
    (802, "North Somerset", "South West"),
    (803, "South Gloucestershire", "South West"),
    (805, "Hartlepool", "North East"),
    (806, "Middlesbrough", "North East"),
    (807, "Redcar and Cleveland", "North East"),
    (808, "Stockton-on-Tees", "North East"),
    (
        810,
        "Kingston upon Hull, City of",
        "Yorkshire and The Humber",
    ),
    (811, "East Riding of Yorkshire", "Yorkshire and The Humber"),
    (812, "North East Lincolnshire", "Yorkshire and The Humber"),
    (813, "North Lincolnshire", "Yorkshire and The Humber"),
    (815, "North Yorkshire", "Yorkshire and The Humber"),
    (816, "York", "Yorkshire and The Humber"),
    (820, "Bedfordshire", "East of England"),
    (821, "Luton", "East of England"),
    (822, "Bedford", "East of England"),
    (823, "Central Bedfordshire", "East of England"),
    (825, "Buckinghamshire", "South East"),
    (826, "Milton Keynes", "South East"),
    (830, "Derbyshire", "East Midlands"),
    (831, "Derby", "East Midlands"),
    (835, "Dorset", "South West"),
    (836, "Poole", "South West"),
    (837, "Bournemouth", "South West"),
    (840, "County Durham", "North East"),
    (841, "Darlington", "North East"),
    (845, "East Sussex", "South East"),
    (846, "Brighton and Hove", "South East"),
    (850, "Hampshire", "South East"),
    (851, "Portsmouth", "South East"),
    (852, "Southampton", "South East"),
    (855, "Leicestershire", "East Midlands"),
    (856, "Leicester", "East Midlands"),
    (857, "Rutland", "East Midlands"),
    (860, "Staffordshire", "West Midlands"),
    (861, "Stoke-on-Trent", "West Midlands"),
    (865, "Wiltshire", "South West"),
    (866, "Swindon", "South West"),
    (867, "Bracknell Forest", "South East"),
    (868, "Windsor and Maidenhead", "South East"),
    (869, "West Berkshire", "South East"),
    (870, "Reading", "South East"),
    (871, "Slough", "South East"),
    (872, "Wokingham", "South East"),
    (873, "Cambridgeshire", "East of England"),
    (874, "Peterborough", "East of England"),
    (875, "Cheshire", "North West"),
    (876, "Halton", "North West"),
    (877, "Warrington", "North West"),
    (878, "Devon", "South West"),
    (879, "Plymouth", "South West"),
    (880, "Torbay", "South West"),
    (881, "Essex", "East of England"),
    (882, "Southend-on-Sea", "East of England"),
    (883, "Thurrock", "East of England"),
    (884, "Herefordshire", "West Midlands"),
    (885, "Worcestershire", "West Midlands"),
    (886, "Kent", "South East"),
    (887, "Medway", "South East"),
    (888, "Lancashire", "North West"),
    (889, "Blackburn with Darwen", "North West"),
    (890, "Blackpool", "North West"),
    (891, "Nottinghamshire", "East Midlands"),
    (892, "Nottingham", "East Midlands"),
    (893, "Shropshire", "West Midlands"),
    (894, "Telford and Wrekin", "West Midlands"),
    (895, "Cheshire East", "North West"),
    (896, "Cheshire West and Chester", "North West"),
    (908, "Cornwall", "South West"),
    (909, "Cumbria", "North West"),
    (916, "Gloucestershire", "South West"),
    (919, "Hertfordshire", "East of England"),
    (921, "Isle of Wight", "South East"),
    (925, "Lincolnshire", "East Midlands"),
    (926, "Norfolk", "East of England"),
    (928, "Northamptonshire", "East Midlands"),
    (929, "Northumberland", "North East"),
    (931, "Oxfordshire", "South East"),
    (933, "Somerset", "South West"),
    (935, "Suffolk", "East of England"),
    (936, "Surrey", "South East"),
    (937, "Warwickshire", "West Midlands"),
    (938, "West Sussex", "South East"),
];

pub(super) fn la_info(la: u16) -> Option<(&'static str, &'static str)> {
    ENGLISH_LA_NAMES
        .iter()
        .find(|e| e.0 == la)
        .map(|&(_, name, region)| (name, region))
}

/// The LAs the demo files cover: those of [`crate::la_codes`] for `cfg`, each with its name
/// and region. Only English LAs have reference data.
pub(super) fn demo_las(
    cfg: &Sen2SimConfig,
) -> Result<Vec<(u16, &'static str, &'static str)>, SimError> {
    la_codes(cfg.las, cfg.first_la)
        .into_iter()
        .map(|la| {
            la_info(la).map(|(n, r)| (la, n, r)).ok_or_else(|| {
                SimError::Config(format!(
                    "LA {la:03} is not an English LA; the demo files have no reference data for it"
                ))
            })
        })
        .collect()
}

/// A Hertfordshire district: ONS code, name, SEND quadrant, postcode outward codes.
pub(super) struct HertsDistrict {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) quadrant: &'static str,
    pub(super) outward: &'static [&'static str],
    /// Census 2021 usual residents, rounded (send-domain.md §7.1; the four marked
    /// unconfirmed there are approximate).
    pub(super) residents: u32,
}

/// Hertfordshire's ten districts (send-domain.md §7.1). Quadrants are the commonly used but
/// unconfirmed grouping (North: North Herts + Stevenage; East: East Herts + Broxbourne;
/// South: Welwyn Hatfield + Hertsmere + St Albans; West: Dacorum + Watford + Three Rivers);
/// in the pipeline they are a configurable lookup, here they only steer synthetic data.
pub(super) const HERTS_DISTRICTS: [HertsDistrict; 10] = [
    HertsDistrict {
        code: "E07000095",
        name: "Broxbourne",
        quadrant: "East",
        outward: &["EN7", "EN8", "EN10", "EN11"],
        residents: 99_000,
    },
    HertsDistrict {
        code: "E07000096",
        name: "Dacorum",
        quadrant: "West",
        outward: &["HP1", "HP2", "HP3", "HP4", "HP23", "WD4"],
        residents: 155_100,
    },
    HertsDistrict {
        code: "E07000098",
        name: "Hertsmere",
        quadrant: "South",
        outward: &["WD6", "WD7", "WD23", "EN6"],
        residents: 107_000,
    },
    HertsDistrict {
        code: "E07000099",
        name: "North Hertfordshire",
        quadrant: "North",
        outward: &["SG3", "SG4", "SG5", "SG6", "SG7", "SG8"],
        residents: 133_200,
    },
    HertsDistrict {
        code: "E07000102",
        name: "Three Rivers",
        quadrant: "West",
        outward: &["WD3", "WD5", "WD19"],
        residents: 93_000,
    },
    HertsDistrict {
        code: "E07000103",
        name: "Watford",
        quadrant: "West",
        outward: &["WD17", "WD18", "WD24", "WD25"],
        residents: 102_000,
    },
    HertsDistrict {
        code: "E07000240",
        name: "St Albans",
        quadrant: "South",
        outward: &["AL1", "AL2", "AL3", "AL4", "AL5"],
        residents: 148_200,
    },
    HertsDistrict {
        code: "E07000241",
        name: "Welwyn Hatfield",
        quadrant: "South",
        outward: &["AL6", "AL7", "AL8", "AL9", "AL10"],
        residents: 119_900,
    },
    HertsDistrict {
        code: "E07000242",
        name: "East Hertfordshire",
        quadrant: "East",
        outward: &["SG9", "SG10", "SG11", "SG12", "SG13", "SG14", "CM23"],
        residents: 150_100,
    },
    HertsDistrict {
        code: "E07000243",
        name: "Stevenage",
        quadrant: "North",
        outward: &["SG1", "SG2"],
        residents: 89_500,
    },
];

/// Hertfordshire's SEND quadrants, in the order files list them.
pub const HERTS_QUADRANTS: [&str; 4] = ["North", "South", "East", "West"];

/// The Hertfordshire district a postcode lies in, by its outward code.
pub(super) fn herts_district_of(postcode: &str) -> Option<&'static HertsDistrict> {
    let outward = postcode.split_whitespace().next()?;
    HERTS_DISTRICTS
        .iter()
        .find(|d| d.outward.contains(&outward))
}

/// The district GIAS gives a school in a non-Hertfordshire demo LA: London boroughs are
/// their own district. Others are left blank (the demo has no district table for them).
pub(super) fn district_of_la(la: u16) -> (&'static str, &'static str) {
    match la {
        201 => ("E09000001", "City of London"),
        202 => ("E09000007", "Camden"),
        203 => ("E09000011", "Greenwich"),
        204 => ("E09000012", "Hackney"),
        _ => ("", ""),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ENGLISH_LAS, nth_english_la_code};
    use crate::names::postcode_districts;

    #[test]
    fn every_herts_outward_code_has_a_district() {
        for outward in postcode_districts(919) {
            assert!(
                herts_district_of(&format!("{outward} 1AA")).is_some(),
                "{outward}"
            );
        }
        assert_eq!(ENGLISH_LA_NAMES.len(), ENGLISH_LAS);
        for i in 0..ENGLISH_LAS {
            assert!(la_info(nth_english_la_code(i)).is_some());
        }
    }
}
