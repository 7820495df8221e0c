fn main() {
    std::process::exit(plastifit::cli::main());
}
