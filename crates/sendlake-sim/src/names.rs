//! Synthetic personal details: names from syllables and well-formed postcodes.
//!
//! Nothing here comes from a list of real people. Names include a few non-ASCII letters so
//! the pipeline's UTF-8 handling is exercised.

use rand::Rng;

const FORENAME_HEADS: &[&str] = &[
    "Al", "An", "Ar", "Be", "Bel", "Ca", "Da", "Del", "El", "Em", "Fa", "Fi", "Ga", "Ha", "Is",
    "Ja", "Jo", "Ka", "La", "Le", "Li", "Lu", "Ma", "Mi", "Mo", "Na", "Ni", "No", "Ol", "Ra", "Ri",
    "Ro", "Sa", "Se", "Si", "Ta", "Te", "To", "Va", "Vi", "Ya", "Za", "Zo", "Ev", "Ha",
];
const FORENAME_MIDS: &[&str] = &[
    "", "", "", "ri", "la", "me", "na", "li", "ro", "sa", "de", "vi", "ne", "ti",
];
const FORENAME_TAILS: &[&str] = &[
    "n", "a", "e", "y", "o", "s", "th", "ley", "lyn", "ra", "na", "den", "ric", "ton", "ia", "el",
    "ie", "an",
];
const SURNAME_HEADS: &[&str] = &[
    "Ash", "Bar", "Brook", "Car", "Dal", "Ell", "Fen", "Gar", "Hal", "Hart", "Ing", "Kel", "Lan",
    "Mar", "Mor", "Nor", "Ock", "Pen", "Ra", "Stan", "Thorn", "Wal", "Wes", "Yar", "Bel", "Cor",
    "Dun", "Fair", "Glen", "Hol",
];
const SURNAME_MIDS: &[&str] = &["", "", "", "ing", "er", "an", "el", "o", "ow", "en"];
const SURNAME_TAILS: &[&str] = &[
    "ridge", "shaw", "ton", "ward", "well", "wick", "wood", "ford", "ley", "by", "den", "field",
    "more", "ham", "son", "ski", "ez", "ani", "ova", "ett",
];
/// Vowel replacements that bring in non-ASCII letters (é, ö, ñ...), plus ł for l.
const ACCENTED: &[(char, &str)] = &[
    ('e', "é"),
    ('o', "ö"),
    ('a', "á"),
    ('u', "ü"),
    ('n', "ñ"),
    ('l', "ł"),
    ('c', "ç"),
    ('i', "ï"),
];

fn choose<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Replaces one lower-case letter with an accented one, if the name has a candidate.
fn accent(rng: &mut impl Rng, name: &str) -> String {
    let &(from, to) = &ACCENTED[rng.random_range(0..ACCENTED.len())];
    match name.char_indices().skip(1).find(|&(_, c)| c == from) {
        Some((i, c)) => format!("{}{}{}", &name[..i], to, &name[i + c.len_utf8()..]),
        None => name.to_owned(),
    }
}

/// A forename such as "Danela" or "Mirí".
pub(crate) fn forename(rng: &mut impl Rng) -> String {
    let name = format!(
        "{}{}{}",
        choose(rng, FORENAME_HEADS),
        choose(rng, FORENAME_MIDS),
        choose(rng, FORENAME_TAILS)
    );
    if rng.random_bool(0.05) {
        accent(rng, &name)
    } else {
        name
    }
}

/// A surname such as "Hartingwood", occasionally double-barrelled or with an apostrophe.
pub(crate) fn surname(rng: &mut impl Rng) -> String {
    let one = |rng: &mut _| {
        format!(
            "{}{}{}",
            choose(rng, SURNAME_HEADS),
            choose(rng, SURNAME_MIDS),
            choose(rng, SURNAME_TAILS)
        )
    };
    let roll = rng.random::<f64>();
    let name = if roll < 0.03 {
        format!("{}-{}", one(rng), one(rng))
    } else if roll < 0.04 {
        format!("O'{}", one(rng))
    } else {
        one(rng)
    };
    if rng.random_bool(0.05) {
        accent(rng, &name)
    } else {
        name
    }
}

/// Hertfordshire outward codes (St Albans, Stevenage, Watford, Enfield-edge, Hemel, Bishop's
/// Stortford districts).
const HERTS_DISTRICTS: &[&str] = &[
    "AL1", "AL2", "AL3", "AL4", "AL5", "AL6", "AL7", "AL8", "AL9", "AL10", "SG1", "SG2", "SG3",
    "SG4", "SG5", "SG6", "SG7", "SG8", "SG9", "SG10", "SG11", "SG12", "SG13", "SG14", "WD3", "WD4",
    "WD5", "WD6", "WD7", "WD17", "WD18", "WD19", "WD23", "WD24", "WD25", "EN6", "EN7", "EN8",
    "EN10", "EN11", "HP1", "HP2", "HP3", "HP4", "HP23", "CM23",
];

/// Postcode areas handed out to the other LAs (two each, chosen by LA code).
const OTHER_AREAS: &[&str] = &[
    "B", "M", "L", "LS", "S", "NE", "BS", "NG", "LE", "CV", "DE", "ST", "WV", "WS", "DY", "BD",
    "HD", "HX", "WF", "DN", "HU", "YO", "SR", "DH", "TS", "DL", "CA", "LA", "PR", "BB", "BL", "OL",
    "SK", "WA", "WN", "CH", "CW", "SY", "TF", "HR", "WR", "GL", "OX", "RG", "SL", "MK", "LU", "NN",
    "PE", "CB", "IP", "NR", "CO", "SS", "RM", "IG", "E", "N", "SE", "SW", "W", "NW", "BR", "CR",
    "DA", "ME", "CT", "TN", "BN", "RH", "GU", "KT", "SM", "TW", "UB", "HA", "PO", "SO", "BH", "SP",
    "SN", "BA", "TA", "EX", "PL", "TQ", "TR", "DT",
];

/// Letters allowed in the inward part of a UK postcode (no C I K M O V).
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// The outward codes (districts) postcodes in LA `la_code` are drawn from.
pub(crate) fn postcode_districts(la_code: u16) -> Vec<String> {
    if la_code == 919 {
        return HERTS_DISTRICTS.iter().map(|s| (*s).to_owned()).collect();
    }
    let n = OTHER_AREAS.len();
    let code = usize::from(la_code);
    let areas = [OTHER_AREAS[code % n], OTHER_AREAS[(code / 7 + 11) % n]];
    areas
        .iter()
        .flat_map(|area| (1..=20).map(move |d| format!("{area}{d}")))
        .collect()
}

/// A postcode like `SG1 2AB` in one of `districts`.
pub(crate) fn postcode(rng: &mut impl Rng, districts: &[String]) -> String {
    let district = districts
        .get(rng.random_range(0..districts.len().max(1)))
        .map_or("SG1", String::as_str);
    let letter =
        |rng: &mut _| char::from(INWARD_LETTERS[Rng::random_range(rng, 0..INWARD_LETTERS.len())]);
    let digit: u8 = rng.random_range(0..10);
    let (a, b) = (letter(rng), letter(rng));
    format!("{district} {digit}{a}{b}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn names_are_capitalised_and_some_are_non_ascii() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let names: Vec<String> = (0..2000)
            .flat_map(|_| [forename(&mut rng), surname(&mut rng)])
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().next().unwrap().is_ascii_uppercase())
        );
        let non_ascii = names.iter().filter(|n| !n.is_ascii()).count();
        assert!(non_ascii > 20, "{non_ascii}");
    }

    #[test]
    fn postcodes_are_well_formed() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for la in [919u16, 201, 886] {
            let districts = postcode_districts(la);
            for _ in 0..200 {
                let pc = postcode(&mut rng, &districts);
                let (out, inward) = pc.split_once(' ').unwrap();
                assert!((2..=4).contains(&out.len()), "{pc}");
                assert!(out.chars().next().unwrap().is_ascii_uppercase());
                assert!(out.chars().last().unwrap().is_ascii_digit());
                assert_eq!(inward.len(), 3);
                assert!(inward.as_bytes()[0].is_ascii_digit());
                if la == 919 {
                    assert!(
                        ["AL", "SG", "WD", "EN", "HP", "CM"]
                            .iter()
                            .any(|a| out.starts_with(a))
                    );
                }
            }
        }
    }
}
