//! `string_enum!`: fieldless enums whose variants have fixed snake_case names.
//!
//! The names are stored in the database and shown in JSON, so they are spelled out once,
//! by hand, rather than derived from the Rust identifiers (renaming a variant must not
//! silently change stored data).

/// Defines a fieldless enum with stable snake_case string forms.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        // JSON shows exactly the stored name.
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(super) use string_enum;

#[cfg(test)]
mod tests {
    use crate::store::audit::AuditAction;
    use crate::store::model::*;

    fn round_trip<T: Copy + PartialEq + std::fmt::Debug + serde::Serialize>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(parse(as_str(v)), Some(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", as_str(v)));
        }
        assert_eq!(parse("no_such_value"), None);
    }

    #[test]
    fn names_round_trip_and_are_what_json_shows() {
        round_trip(Channel::ALL, Channel::as_str, Channel::parse);
        round_trip(Disposition::ALL, Disposition::as_str, Disposition::parse);
        round_trip(Status::ALL, Status::as_str, Status::parse);
        round_trip(Role::ALL, Role::as_str, Role::parse);
        round_trip(HistoryKind::ALL, HistoryKind::as_str, HistoryKind::parse);
        round_trip(AuditAction::ALL, AuditAction::as_str, AuditAction::parse);
        assert_eq!(Status::UnderInvestigation.as_str(), "under_investigation");
    }
}
