//! Compiles the shipped model into the binary when `models/` holds one. Without it (a fresh checkout before
//! `redflag train`, or someone retraining from scratch) the build still succeeds and the model loads from a path.

fn main() {
    const FILES: [&str; 3] = ["models/classifier.json", "models/classifier.safetensors", "models/tokenizer.json"];
    println!("cargo::rustc-check-cfg=cfg(builtin_model)");
    println!("cargo::rerun-if-changed=models");
    for file in FILES {
        println!("cargo::rerun-if-changed={file}");
    }
    if FILES.iter().all(|f| std::path::Path::new(f).is_file()) {
        println!("cargo::rustc-cfg=builtin_model");
    }
}
