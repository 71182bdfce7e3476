//! Embeds every `specs/*.toml` file in the binary, so an installed
//! `wsgiprobe` carries its cases without the source tree.

use std::{env, fs, path::Path};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let specs = Path::new(&manifest).join("specs");
    println!("cargo:rerun-if-changed={}", specs.display());

    let mut files: Vec<_> = fs::read_dir(&specs)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();

    let mut out = String::from("/// Spec files embedded at build time: (file name, contents).\n");
    out.push_str("pub static BUILTIN_SPECS: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("specs.rs");
    fs::write(dest, out).expect("write embedded spec list");
}
