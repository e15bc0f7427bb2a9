//! The SIP message model (being written).
