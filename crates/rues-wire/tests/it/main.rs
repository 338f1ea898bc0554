//! Integration tests of `rues-wire`, one binary with a module per concern.

mod properties;
mod resume;
mod vectors;
mod worked_example;
mod zero_copy;
