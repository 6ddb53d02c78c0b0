//! JSON decoder.
