//! The example binary.
use hello_macro::Hello;

#[derive(Hello)]
struct App;

fn main() {
    println!("{}", App::hello());
    println!("{}", middle::run(3));
    println!("largest={:?}", generic::largest(&[3, 9, 4]));
}
