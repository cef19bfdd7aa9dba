//! A citizen's intake: what they tell us before they wait. Parsing validates every field
//! once, at the edge; everything past `Intake::parse` can trust the values.

use std::fmt;

/// The language a citizen prefers to be heard in. Hindi is the default everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    Hindi,
    English,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Hindi => "hi",
            Language::English => "en",
        }
    }
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "hi" => Some(Language::Hindi),
            "en" => Some(Language::English),
            _ => None,
        }
    }
}

/// A mobile number in E.164 form (`+919876543210`). A bare 10-digit Indian mobile number
/// (first digit 6–9, optionally with a leading 0 or 91) is normalised to `+91…`; other
/// countries need the `+` and country code, because callers from abroad are expected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(raw: &str) -> Result<Self, IntakeError> {
        let plus = raw.trim_start().starts_with('+');
        let mut digits = String::with_capacity(16);
        for c in raw.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' | '.' => {}
                '+' if digits.is_empty() => {}
                _ => return Err(IntakeError::Mobile),
            }
        }
        let indian = |d: &str| d.len() == 10 && matches!(d.as_bytes()[0], b'6'..=b'9');
        let e164 = if plus {
            if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
                return Err(IntakeError::Mobile);
            }
            if digits.starts_with("91") && !indian(&digits[2..]) {
                return Err(IntakeError::Mobile);
            }
            format!("+{digits}")
        } else {
            let local = if digits.len() == 11 && digits.starts_with('0') {
                &digits[1..]
            } else if digits.len() == 12 && digits.starts_with("91") {
                &digits[2..]
            } else {
                &digits[..]
            };
            if !indian(local) {
                return Err(IntakeError::Mobile);
            }
            format!("+91{local}")
        };
        Ok(Self(e164))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Field limits, in characters (not bytes: Devanagari takes three bytes a character).
pub const NAME_MAX: usize = 80;
pub const AREA_MAX: usize = 80;
pub const DESCRIPTION_MAX: usize = 1000;
pub const CATEGORY_MAX: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("name must be 1 to {NAME_MAX} characters")]
    Name,
    #[error("mobile number is not valid: give a 10-digit Indian mobile number or +country code and number")]
    Mobile,
    #[error("police-station area must be 1 to {AREA_MAX} characters")]
    Area,
    #[error("unknown category")]
    Category,
    #[error("description must be at most {DESCRIPTION_MAX} characters")]
    Description,
    #[error("unknown language: use \"hi\" or \"en\"")]
    Language,
    #[error("consent to the call being recorded as a complaint is required")]
    Consent,
}

impl IntakeError {
    /// The name of the offending field, for clients that highlight it.
    pub fn field(&self) -> &'static str {
        match self {
            IntakeError::Name => "name",
            IntakeError::Mobile => "mobile",
            IntakeError::Area => "area",
            IntakeError::Category => "category",
            IntakeError::Description => "description",
            IntakeError::Language => "language",
            IntakeError::Consent => "consent",
        }
    }
}

/// What a citizen tells us before they wait (or in a written complaint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intake {
    pub name: String,
    pub mobile: Mobile,
    /// The police-station area the matter belongs to, in the citizen's words.
    pub area: String,
    /// One of the configured complaint categories (a key such as "theft").
    pub category: String,
    pub description: String,
    pub language: Language,
}

/// Unvalidated intake as it arrives from the network.
#[derive(Clone, Debug, Default)]
pub struct RawIntake<'a> {
    pub name: &'a str,
    pub mobile: &'a str,
    pub area: &'a str,
    pub category: &'a str,
    pub description: &'a str,
    pub language: &'a str,
    pub consent: bool,
}

/// Trims, collapses control characters away, and checks a free-text field's length.
fn text(raw: &str, min: usize, max: usize, err: IntakeError) -> Result<String, IntakeError> {
    // Control characters become spaces before trimming, so a field made only of them is
    // empty, not one blank.
    let spaced: String = raw
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    let cleaned = spaced.trim().to_owned();
    let n = cleaned.chars().count();
    if n < min || n > max {
        return Err(err);
    }
    Ok(cleaned)
}

impl Intake {
    /// Validates raw intake against the configured category keys.
    pub fn parse(raw: &RawIntake<'_>, categories: &[String]) -> Result<Self, IntakeError> {
        if !raw.consent {
            return Err(IntakeError::Consent);
        }
        let name = text(raw.name, 1, NAME_MAX, IntakeError::Name)?;
        let mobile = Mobile::parse(raw.mobile)?;
        let area = text(raw.area, 1, AREA_MAX, IntakeError::Area)?;
        let category = raw.category.trim();
        if category.chars().count() > CATEGORY_MAX || !categories.iter().any(|c| c == category) {
            return Err(IntakeError::Category);
        }
        let description = text(
            raw.description,
            0,
            DESCRIPTION_MAX,
            IntakeError::Description,
        )?;
        let language = if raw.language.is_empty() {
            Language::default()
        } else {
            Language::parse(raw.language).ok_or(IntakeError::Language)?
        };
        Ok(Self {
            name,
            mobile,
            area,
            category: category.to_owned(),
            description,
            language,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles() {
        let cases = [
            ("9876543210", Some("+919876543210")),
            ("098765 43210", Some("+919876543210")),
            ("91-98765-43210", Some("+919876543210")),
            ("+91 98765 43210", Some("+919876543210")),
            ("+44 20 7946 0958", Some("+442079460958")),
            ("5876543210", None),
            ("+91 12345 67890", None),
            ("98765", None),
            ("98765abc10", None),
            ("", None),
            ("+", None),
            ("+0123456789", None),
        ];
        for (raw, want) in cases {
            let got = Mobile::parse(raw).ok();
            assert_eq!(got.as_ref().map(Mobile::as_str), want, "{raw}");
        }
    }

    fn cats() -> Vec<String> {
        vec!["theft".into(), "other".into()]
    }

    fn raw() -> RawIntake<'static> {
        RawIntake {
            name: " राम कुमार ",
            mobile: "9876543210",
            area: "Kotwali",
            category: "theft",
            description: "मोबाइल चोरी",
            language: "",
            consent: true,
        }
    }

    #[test]
    fn valid_intake_is_trimmed_and_defaults_to_hindi() {
        let i = Intake::parse(&raw(), &cats()).unwrap();
        assert_eq!(i.name, "राम कुमार");
        assert_eq!(i.language, Language::Hindi);
    }

    #[test]
    fn each_bad_field_is_named() {
        let long = "x".repeat(DESCRIPTION_MAX + 1);
        let cases: Vec<(RawIntake, &str)> = vec![
            (
                RawIntake {
                    consent: false,
                    ..raw()
                },
                "consent",
            ),
            (
                RawIntake {
                    name: "  ",
                    ..raw()
                },
                "name",
            ),
            (
                RawIntake {
                    mobile: "123",
                    ..raw()
                },
                "mobile",
            ),
            (RawIntake { area: "", ..raw() }, "area"),
            (
                RawIntake {
                    category: "murder-for-hire",
                    ..raw()
                },
                "category",
            ),
            (
                RawIntake {
                    description: &long,
                    ..raw()
                },
                "description",
            ),
            (
                RawIntake {
                    language: "fr",
                    ..raw()
                },
                "language",
            ),
        ];
        for (r, field) in cases {
            assert_eq!(Intake::parse(&r, &cats()).unwrap_err().field(), field);
        }
    }

    #[test]
    fn a_name_of_control_characters_is_empty() {
        let r = RawIntake {
            name: "\u{7}\t\u{1b}",
            ..raw()
        };
        assert_eq!(Intake::parse(&r, &cats()).unwrap_err(), IntakeError::Name);
    }

    #[test]
    fn devanagari_counts_characters_not_bytes() {
        let name: String = "क".repeat(NAME_MAX);
        assert!(Intake::parse(
            &RawIntake {
                name: &name,
                ..raw()
            },
            &cats()
        )
        .is_ok());
    }
}
