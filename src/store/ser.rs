//! Serde helpers for core types that are not `Serialize` themselves.
//!
//! The core stays free of serde on purpose; the JSON shape of a record is the shell's
//! business, so it is decided here, next to the records.

use std::fmt::Display;

use serde::ser::{SerializeStruct, Serializer};

use crate::core::intake::Intake;

pub(super) fn display<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

pub(super) fn opt_display<T: Display, S: Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

pub(super) fn intake<S: Serializer>(i: &Intake, s: S) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct("Intake", 6)?;
    st.serialize_field("name", &i.name)?;
    st.serialize_field("mobile", i.mobile.as_str())?;
    st.serialize_field("area", &i.area)?;
    st.serialize_field("category", &i.category)?;
    st.serialize_field("description", &i.description)?;
    st.serialize_field("language", i.language.code())?;
    st.end()
}
