fn main() {
    if cfg!(flavor = "a") {
        println!("flavor a");
    } else if cfg!(flavor = "b") {
        println!("flavor b");
    } else {
        println!("host toolchain");
    }
}
