//! Hearing schedule (placeholder, replaced by the real module).
