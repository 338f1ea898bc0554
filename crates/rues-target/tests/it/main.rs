//! The one integration-test binary of `rues-target`.

mod api;
mod matching;
mod properties;
mod vectors;
