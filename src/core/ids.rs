//! Identifiers of the domain. Every id is a newtype so that a desk id can never be passed
//! where an entry id is expected. Parsing user-supplied ids happens here and nowhere else.

use std::fmt;
use uuid::Uuid;

/// A desk: one hearing queue, for example "ssp-prayagraj". Lowercase ASCII letters,
/// digits and '-', 1 to 40 characters, so it can stand in a URL (`/d/<desk>`) unescaped.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeskId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a desk id is 1 to 40 characters of a-z, 0-9 and '-'")]
pub struct BadDeskId;

impl DeskId {
    pub fn parse(s: &str) -> Result<Self, BadDeskId> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadDeskId)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// One citizen's case: their place in a waiting room and the complaint record that
    /// follows it. The same id is the record's UUID, so a queue entry and its record can
    /// never drift apart.
    EntryId
);
uuid_id!(
    /// A staff account (officer or supervisor).
    UserId
);
