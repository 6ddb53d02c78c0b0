//! HJ 212 decoder (in progress on the hj212 branch).
