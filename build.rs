fn main() {
    // The schema migrations are compiled in: build again when one is added.
    println!("cargo:rerun-if-changed=migrations");
}
