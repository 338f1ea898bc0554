//! Tests of the `rues` binary, run as a process against real sockets.

mod node;

mod serve;
