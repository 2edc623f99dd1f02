fn main() {
    eprintln!("ferry: the client CLI is not built yet");
    std::process::exit(1);
}
