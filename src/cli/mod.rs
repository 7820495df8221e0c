//! Command-line interface: parse, run, map errors to an exit code.

pub fn main() -> i32 {
    0
}
