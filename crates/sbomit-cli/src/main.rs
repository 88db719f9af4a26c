fn main() {
    println!("sbomit");
}
