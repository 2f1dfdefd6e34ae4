//! Embeds the web application's templates in the binary: every file of `web/templates` becomes
//! a template named after its file (loaded by `web::Web` with `minijinja_embed::load_templates!`),
//! so adding a page needs no list to keep in step.

fn main() {
    minijinja_embed::embed_templates!("web/templates");
}
