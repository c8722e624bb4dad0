fn main() {
    println!("cargo:rerun-if-changed=src/tls.c");
    cc::Build::new()
        .file("src/tls.c")
        .flag_if_supported("-ftls-model=initial-exec")
        .warnings(true)
        .compile("hupsafe_tls");
}
