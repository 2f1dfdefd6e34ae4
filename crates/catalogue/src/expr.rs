//! Rule expressions: a subset of CEL (the syntax OpenSPP and Kubernetes use for eligibility),
//! parsed, type-checked against the registry's variables and the form's choice codes, and
//! **compiled** into a tree of closures over resolved variable positions. Evaluation never
//! looks at the text or at a name again, and follows three-valued logic: a comparison with a
//! missing answer is unknown; `false && unknown` is false, `true || unknown` is true.

use crate::vars::{lookup, Scope, VarId, VarType};
use std::fmt;
use std::sync::Arc;

/// Truth value under missing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    False,
    True,
    Unknown,
}

impl Tri {
    fn from_bool(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// A fact supplied by the engine for one variable of the unit being evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    /// A multiple-choice answer as a bit set over its choice list (bit i = code i).
    Bits(u64),
}

/// What an evaluator reads: the facts of one unit (and, for persons, of their household).
pub trait Facts {
    fn get(&self, var: VarId) -> Fact<'_>;
}

/// Where and why an expression was refused (offset in characters from its start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (posición {})", self.message, self.offset + 1)
    }
}

/// The codes of a choice list, supplied by the caller (the shipped XLSForms).
pub trait Vocabulary {
    fn choices(&self, list: &str) -> Option<&'static [&'static str]>;
}

type BoolFn = Arc<dyn Fn(&dyn Facts) -> Tri + Send + Sync>;
/// An integer expression: `None` when an operand is missing (or the result overflows).
type IntFn = Arc<dyn Fn(&dyn Facts) -> Option<i64> + Send + Sync>;

/// A compiled rule.
#[derive(Clone)]
pub struct Compiled {
    source: String,
    sql: String,
    vars: Vec<VarId>,
    eval: BoolFn,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Compiled({:?})", self.source)
    }
}

impl Compiled {
    pub fn eval(&self, facts: &dyn Facts) -> Tri {
        (self.eval)(facts)
    }
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// The rule as a SQL boolean expression over columns named `persona.<campo>`,
    /// `hogar.<campo>`, `comunidad.<campo>` (SQL's NULL logic is the same three-valued logic).
    /// Used to run the same classification in another engine (the DuckDB benchmark).
    pub fn sql(&self) -> &str {
        &self.sql
    }
    /// The variables the rule reads (for explanations and for loading only what is needed).
    pub fn variables(&self) -> &[VarId] {
        &self.vars
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Int(i64),
    Str(String),
    Op(&'static str),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |offset: usize, m: &str| ExprError {
        offset,
        message: m.to_string(),
    };
    while let Some(&c) = chars.get(i) {
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let mut n: i64 = 0;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(d)))
                    .ok_or_else(|| err(start, "número demasiado grande"))?;
                i += 1;
                while chars.get(i) == Some(&'_') {
                    i += 1;
                }
            }
            out.push((start, Tok::Int(n)));
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(&c) = chars.get(i).filter(|c| c.is_alphanumeric() || **c == '_') {
                s.push(c);
                i += 1;
            }
            out.push((start, Tok::Ident(s)));
        } else if c == '\'' || c == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(err(start, "texto sin cerrar: falta la comilla final")),
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push((start, Tok::Str(s)));
        } else {
            let two: String = chars
                .get(i..i + 2)
                .map(|s| s.iter().collect())
                .unwrap_or_default();
            let op = match two.as_str() {
                "==" => Some("=="),
                "!=" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                "&&" => Some("&&"),
                "||" => Some("||"),
                _ => None,
            };
            if let Some(op) = op {
                out.push((start, Tok::Op(op)));
                i += 2;
                continue;
            }
            let op = match c {
                '<' => "<",
                '>' => ">",
                '!' => "!",
                '(' => "(",
                ')' => ")",
                '[' => "[",
                ']' => "]",
                ',' => ",",
                '.' => ".",
                '-' => "-",
                '+' => "+",
                '*' => "*",
                _ => return Err(err(start, &format!("carácter inesperado «{c}»"))),
            };
            out.push((start, Tok::Op(op)));
            i += 1;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parser

#[derive(Debug, Clone, PartialEq)]
enum Ast {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<(usize, Ast)>),
    Var(Scope, String),
    Has(Box<(usize, Ast)>),
    Not(Box<(usize, Ast)>),
    And(Box<(usize, Ast)>, Box<(usize, Ast)>),
    Or(Box<(usize, Ast)>, Box<(usize, Ast)>),
    Cmp(&'static str, Box<(usize, Ast)>, Box<(usize, Ast)>),
    In(Box<(usize, Ast)>, Box<(usize, Ast)>),
    /// Integer arithmetic: `+`, `-`, `*`.
    Arith(&'static str, Box<(usize, Ast)>, Box<(usize, Ast)>),
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0).unwrap_or(self.end)
    }
    fn err<T>(&self, m: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            offset: self.offset(),
            message: m.into(),
        })
    }
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, op: &str) -> Result<(), ExprError> {
        if self.eat(op) {
            Ok(())
        } else {
            self.err(format!("se esperaba «{op}»"))
        }
    }
    fn or(&mut self) -> Result<(usize, Ast), ExprError> {
        let mut l = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            l = (l.0, Ast::Or(Box::new(l), Box::new(r)));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<(usize, Ast), ExprError> {
        let mut l = self.unary()?;
        while self.eat("&&") {
            let r = self.unary()?;
            l = (l.0, Ast::And(Box::new(l), Box::new(r)));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<(usize, Ast), ExprError> {
        let at = self.offset();
        if self.eat("!") {
            let e = self.unary()?;
            return Ok((at, Ast::Not(Box::new(e))));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<(usize, Ast), ExprError> {
        let l = self.sum()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let r = self.sum()?;
                return Ok((l.0, Ast::Cmp(op, Box::new(l), Box::new(r))));
            }
        }
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == "in") {
            self.pos += 1;
            let r = self.primary()?;
            return Ok((l.0, Ast::In(Box::new(l), Box::new(r))));
        }
        Ok(l)
    }
    /// `term (('+' | '-') term)*`.
    fn sum(&mut self) -> Result<(usize, Ast), ExprError> {
        let mut l = self.product()?;
        loop {
            let op = if self.eat("+") {
                "+"
            } else if self.eat("-") {
                "-"
            } else {
                return Ok(l);
            };
            let r = self.product()?;
            l = (l.0, Ast::Arith(op, Box::new(l), Box::new(r)));
        }
    }
    /// `primary ('*' primary)*`.
    fn product(&mut self) -> Result<(usize, Ast), ExprError> {
        let mut l = self.primary()?;
        while self.eat("*") {
            let r = self.primary()?;
            l = (l.0, Ast::Arith("*", Box::new(l), Box::new(r)));
        }
        Ok(l)
    }
    fn primary(&mut self) -> Result<(usize, Ast), ExprError> {
        let at = self.offset();
        match self.peek().cloned() {
            Some(Tok::Int(n)) => {
                self.pos += 1;
                Ok((at, Ast::Int(n)))
            }
            Some(Tok::Op("-")) => {
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Tok::Int(n)) => {
                        self.pos += 1;
                        Ok((at, Ast::Int(-n)))
                    }
                    _ => self.err("se esperaba un número después de «-»"),
                }
            }
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok((at, Ast::Str(s)))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let e = self.or()?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Op("[")) => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.primary()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok((at, Ast::List(items)))
            }
            Some(Tok::Ident(id)) => {
                self.pos += 1;
                match id.as_str() {
                    "true" => Ok((at, Ast::Bool(true))),
                    "false" => Ok((at, Ast::Bool(false))),
                    "has" => {
                        self.expect("(")?;
                        let inner = self.primary()?;
                        self.expect(")")?;
                        Ok((at, Ast::Has(Box::new(inner))))
                    }
                    _ => {
                        let Some(scope) = Scope::parse(&id) else {
                            return Err(ExprError {
                                offset: at,
                                message: format!("nombre desconocido «{id}»: los campos empiezan con persona., hogar. o comunidad."),
                            });
                        };
                        self.expect(".")?;
                        match self.peek().cloned() {
                            Some(Tok::Ident(field)) => {
                                self.pos += 1;
                                Ok((at, Ast::Var(scope, field)))
                            }
                            _ => self.err("se esperaba el nombre de un campo después del punto"),
                        }
                    }
                }
            }
            Some(t) => self.err(format!("expresión incompleta o mal formada cerca de {t:?}")),
            None => self.err("expresión incompleta"),
        }
    }
}

// ---------------------------------------------------------------- compiler

struct Ctx<'v> {
    vocab: &'v dyn Vocabulary,
    allowed: &'v [Scope],
    vars: Vec<VarId>,
}

/// A compiled non-boolean operand.
enum Operand {
    Int(i64),
    Str(String),
    Var(VarId, VarType, String),
}

fn cerr<T>(offset: usize, m: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        offset,
        message: m.into(),
    })
}

impl Ctx<'_> {
    fn var(&mut self, at: usize, scope: Scope, name: &str) -> Result<(VarId, VarType), ExprError> {
        if !self.allowed.contains(&scope) {
            let ok: Vec<&str> = self.allowed.iter().map(|s| s.prefix()).collect();
            return cerr(
                at,
                format!(
                    "«{}.» no está disponible en esta regla (use {})",
                    scope.prefix(),
                    ok.join(", ")
                ),
            );
        }
        match lookup(scope, name) {
            Some((id, ty)) => {
                if !self.vars.contains(&id) {
                    self.vars.push(id);
                }
                Ok((id, ty))
            }
            None => {
                let names: Vec<&str> = crate::vars::variables(scope)
                    .iter()
                    .map(|v| v.name)
                    .collect();
                cerr(
                    at,
                    format!(
                        "campo desconocido «{}.{name}» (campos válidos: {})",
                        scope.prefix(),
                        names.join(", ")
                    ),
                )
            }
        }
    }

    fn check_code(&self, at: usize, list: &str, code: &str) -> Result<(), ExprError> {
        match self.vocab.choices(list) {
            Some(codes) if codes.contains(&code) => Ok(()),
            Some(codes) => cerr(
                at,
                format!(
                    "código desconocido «{code}» para la lista «{list}» (válidos: {})",
                    codes.join(", ")
                ),
            ),
            None => Ok(()),
        }
    }

    fn operand(&mut self, (at, ast): &(usize, Ast)) -> Result<Operand, ExprError> {
        Ok(match ast {
            Ast::Int(n) => Operand::Int(*n),
            Ast::Str(s) => Operand::Str(s.clone()),
            Ast::Var(scope, name) => {
                let (id, ty) = self.var(*at, *scope, name)?;
                Operand::Var(id, ty, format!("{}.{name}", scope.prefix()))
            }
            _ => return cerr(*at, "se esperaba un campo, un número o un texto"),
        })
    }

    fn boolean(&mut self, (at, ast): &(usize, Ast)) -> Result<BoolFn, ExprError> {
        let at = *at;
        Ok(match ast {
            Ast::Bool(b) => {
                let t = Tri::from_bool(*b);
                Arc::new(move |_| t)
            }
            Ast::Not(e) => {
                let e = self.boolean(e)?;
                Arc::new(move |f| e(f).not())
            }
            Ast::And(a, b) => {
                let (a, b) = (self.boolean(a)?, self.boolean(b)?);
                Arc::new(move |f| {
                    let x = a(f);
                    if x == Tri::False {
                        Tri::False
                    } else {
                        x.and(b(f))
                    }
                })
            }
            Ast::Or(a, b) => {
                let (a, b) = (self.boolean(a)?, self.boolean(b)?);
                Arc::new(move |f| {
                    let x = a(f);
                    if x == Tri::True {
                        Tri::True
                    } else {
                        x.or(b(f))
                    }
                })
            }
            Ast::Has(inner) => match self.operand(inner)? {
                Operand::Var(id, _, _) => {
                    Arc::new(move |f| Tri::from_bool(!matches!(f.get(id), Fact::Null)))
                }
                _ => return cerr(at, "has() necesita un campo"),
            },
            Ast::Var(scope, name) => {
                let (id, ty) = self.var(at, *scope, name)?;
                if ty != VarType::Bool {
                    return cerr(
                        at,
                        format!(
                            "«{}.{name}» no es verdadero/falso: compárelo con un valor",
                            scope.prefix()
                        ),
                    );
                }
                Arc::new(move |f| match f.get(id) {
                    Fact::Bool(b) => Tri::from_bool(b),
                    _ => Tri::Unknown,
                })
            }
            Ast::Cmp(op, l, r) => self.comparison(at, op, l, r)?,
            Ast::In(l, r) => self.membership(at, l, r)?,
            _ => return cerr(at, "se esperaba una condición (verdadero/falso)"),
        })
    }

    fn comparison(
        &mut self,
        at: usize,
        op: &'static str,
        l: &(usize, Ast),
        r: &(usize, Ast),
    ) -> Result<BoolFn, ExprError> {
        // Booleans: only == / != against true/false or another boolean.
        if let (Ast::Var(s, n), Ast::Bool(b)) | (Ast::Bool(b), Ast::Var(s, n)) = (&l.1, &r.1) {
            let (id, ty) = self.var(at, *s, n)?;
            if ty != VarType::Bool {
                return cerr(at, format!("«{}.{n}» no es verdadero/falso", s.prefix()));
            }
            let want = *b;
            let eq = match op {
                "==" => true,
                "!=" => false,
                _ => return cerr(at, "con verdadero/falso sólo se usa == o !="),
            };
            return Ok(Arc::new(move |f| match f.get(id) {
                Fact::Bool(x) => Tri::from_bool((x == want) == eq),
                _ => Tri::Unknown,
            }));
        }
        let ord = move |x: i64, y: i64| -> bool {
            match op {
                "==" => x == y,
                "!=" => x != y,
                "<" => x < y,
                "<=" => x <= y,
                ">" => x > y,
                _ => x >= y,
            }
        };
        if matches!(l.1, Ast::Arith(..)) || matches!(r.1, Ast::Arith(..)) {
            let (a, b) = (self.integer(l)?, self.integer(r)?);
            return Ok(Arc::new(move |f| match (a(f), b(f)) {
                (Some(x), Some(y)) => Tri::from_bool(ord(x, y)),
                _ => Tri::Unknown,
            }));
        }
        let (a, b) = (self.operand(l)?, self.operand(r)?);
        match (a, b) {
            (Operand::Var(id, VarType::Int, _), Operand::Int(k)) => {
                Ok(Arc::new(move |f| match f.get(id) {
                    Fact::Int(x) => Tri::from_bool(ord(x, k)),
                    _ => Tri::Unknown,
                }))
            }
            (Operand::Int(k), Operand::Var(id, VarType::Int, _)) => {
                Ok(Arc::new(move |f| match f.get(id) {
                    Fact::Int(x) => Tri::from_bool(ord(k, x)),
                    _ => Tri::Unknown,
                }))
            }
            (Operand::Var(x, VarType::Int, _), Operand::Var(y, VarType::Int, _)) => {
                Ok(Arc::new(move |f| match (f.get(x), f.get(y)) {
                    (Fact::Int(a), Fact::Int(b)) => Tri::from_bool(ord(a, b)),
                    _ => Tri::Unknown,
                }))
            }
            (Operand::Var(id, VarType::Text(list), name), Operand::Str(k))
            | (Operand::Str(k), Operand::Var(id, VarType::Text(list), name)) => {
                if op != "==" && op != "!=" {
                    return cerr(
                        at,
                        format!("«{name}» es un texto: sólo se compara con == o !="),
                    );
                }
                if let Some(list) = list {
                    self.check_code(r.0.max(l.0), list, &k)?;
                }
                let eq = op == "==";
                Ok(Arc::new(move |f| match f.get(id) {
                    Fact::Text(x) => Tri::from_bool((x == k) == eq),
                    _ => Tri::Unknown,
                }))
            }
            (Operand::Var(_, VarType::Multi(_), name), _)
            | (_, Operand::Var(_, VarType::Multi(_), name)) => cerr(
                at,
                format!("«{name}» admite varias respuestas: use «'código' in {name}»"),
            ),
            (Operand::Var(_, ta, na), Operand::Var(_, tb, nb)) => cerr(
                at,
                format!("no se pueden comparar «{na}» ({ta:?}) y «{nb}» ({tb:?})"),
            ),
            (Operand::Var(_, t, name), _) | (_, Operand::Var(_, t, name)) => {
                let what = match t {
                    VarType::Int => "un número",
                    VarType::Bool => "verdadero/falso",
                    _ => "un texto entre comillas",
                };
                cerr(at, format!("«{name}» se compara con {what}"))
            }
            _ => cerr(at, "la comparación debe incluir un campo"),
        }
    }

    /// An integer operand of arithmetic: a number, an integer field or an operation.
    fn integer(&mut self, e: &(usize, Ast)) -> Result<IntFn, ExprError> {
        if let Ast::Arith(op, a, b) = &e.1 {
            let (a, b) = (self.integer(a)?, self.integer(b)?);
            let op = *op;
            return Ok(Arc::new(move |f| {
                let (x, y) = (a(f)?, b(f)?);
                match op {
                    "+" => x.checked_add(y),
                    "-" => x.checked_sub(y),
                    _ => x.checked_mul(y),
                }
            }));
        }
        match self.operand(e)? {
            Operand::Int(k) => Ok(Arc::new(move |_| Some(k))),
            Operand::Var(id, VarType::Int, _) => Ok(Arc::new(move |f| match f.get(id) {
                Fact::Int(x) => Some(x),
                _ => None,
            })),
            Operand::Var(_, _, name) => cerr(
                e.0,
                format!("«{name}» no es un número: no se puede sumar, restar ni multiplicar"),
            ),
            Operand::Str(_) => cerr(e.0, "un texto no se puede sumar, restar ni multiplicar"),
        }
    }

    fn membership(
        &mut self,
        at: usize,
        l: &(usize, Ast),
        r: &(usize, Ast),
    ) -> Result<BoolFn, ExprError> {
        match (&l.1, &r.1) {
            // persona.seguro_salud in ['ips', 'privado']  /  persona.edad in [1, 2]
            (Ast::Var(..), Ast::List(items)) => match self.operand(l)? {
                Operand::Var(id, VarType::Text(list), _) => {
                    let mut codes = Vec::new();
                    for (iat, item) in items {
                        let Ast::Str(s) = item else {
                            return cerr(*iat, "la lista debe tener textos entre comillas");
                        };
                        if let Some(list) = list {
                            self.check_code(*iat, list, s)?;
                        }
                        codes.push(s.clone());
                    }
                    Ok(Arc::new(move |f| match f.get(id) {
                        Fact::Text(x) => Tri::from_bool(codes.iter().any(|c| c == x)),
                        _ => Tri::Unknown,
                    }))
                }
                Operand::Var(id, VarType::Int, _) => {
                    let mut nums = Vec::new();
                    for (iat, item) in items {
                        let Ast::Int(n) = item else {
                            return cerr(*iat, "la lista debe tener números");
                        };
                        nums.push(*n);
                    }
                    Ok(Arc::new(move |f| match f.get(id) {
                        Fact::Int(x) => Tri::from_bool(nums.contains(&x)),
                        _ => Tri::Unknown,
                    }))
                }
                Operand::Var(_, _, name) => {
                    cerr(at, format!("«{name}» no se puede buscar en una lista"))
                }
                _ => cerr(at, "se esperaba un campo"),
            },
            // 'tekopora' in persona.programas
            (Ast::Str(code), Ast::Var(..)) => match self.operand(r)? {
                Operand::Var(id, VarType::Multi(list), _) => {
                    self.check_code(l.0, list, code)?;
                    let bit = self
                        .vocab
                        .choices(list)
                        .and_then(|c| c.iter().position(|x| x == code))
                        .unwrap_or(64);
                    let code = code.clone();
                    Ok(Arc::new(move |f| match f.get(id) {
                        Fact::Text(x) => Tri::from_bool(x.split_whitespace().any(|c| c == code)),
                        Fact::Bits(b) => Tri::from_bool(bit < 64 && b & (1u64 << bit) != 0),
                        _ => Tri::Unknown,
                    }))
                }
                Operand::Var(_, _, name) => {
                    cerr(at, format!("«{name}» no es de selección múltiple"))
                }
                _ => cerr(at, "se esperaba un campo"),
            },
            _ => cerr(
                at,
                "use «campo in [lista]» o «'código' in campo_de_selección_múltiple»",
            ),
        }
    }
}

/// Compiles a rule that may read the variables of the `allowed` scopes.
pub fn compile(
    src: &str,
    allowed: &[Scope],
    vocab: &dyn Vocabulary,
) -> Result<Compiled, ExprError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(ExprError {
            offset: 0,
            message: "expresión vacía".into(),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.chars().count(),
    };
    let ast = p.or()?;
    if p.pos < p.toks.len() {
        return p.err("sobra texto al final de la expresión");
    }
    let mut ctx = Ctx {
        vocab,
        allowed,
        vars: Vec::new(),
    };
    let eval = ctx.boolean(&ast)?;
    Ok(Compiled {
        source: src.to_string(),
        sql: sql_of(&ast.1),
        vars: ctx.vars,
        eval,
    })
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Renders a type-checked expression as SQL (DuckDB dialect for multiple choice).
fn sql_of(ast: &Ast) -> String {
    let sub = |b: &(usize, Ast)| sql_of(&b.1);
    match ast {
        Ast::Bool(b) => b.to_string(),
        Ast::Int(n) => n.to_string(),
        Ast::Str(s) => sql_quote(s),
        Ast::List(items) => items
            .iter()
            .map(|i| sql_of(&i.1))
            .collect::<Vec<_>>()
            .join(", "),
        Ast::Var(scope, name) => format!("{}.{name}", scope.prefix()),
        Ast::Has(inner) => format!("({} IS NOT NULL)", sub(inner)),
        Ast::Not(e) => format!("(NOT {})", sub(e)),
        Ast::And(a, b) => format!("({} AND {})", sub(a), sub(b)),
        Ast::Or(a, b) => format!("({} OR {})", sub(a), sub(b)),
        Ast::Cmp(op, a, b) => {
            let op = match *op {
                "==" => "=",
                "!=" => "<>",
                o => o,
            };
            format!("({} {op} {})", sub(a), sub(b))
        }
        Ast::In(a, b) => match (&a.1, &b.1) {
            (_, Ast::List(_)) => format!("({} IN ({}))", sub(a), sub(b)),
            // 'code' in multiple choice (space-separated codes).
            _ => format!("list_contains(string_split({}, ' '), {})", sub(b), sub(a)),
        },
        Ast::Arith(op, a, b) => format!("({} {op} {})", sub(a), sub(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vocab;
    impl Vocabulary for Vocab {
        fn choices(&self, list: &str) -> Option<&'static [&'static str]> {
            match list {
                "si_no" => Some(&["si", "no"]),
                "sexo" => Some(&["hombre", "mujer"]),
                "seguro" => Some(&["ips", "privado", "militar_policial", "ninguno"]),
                "programa" => Some(&["tekopora", "pani", "ninguno"]),
                _ => None,
            }
        }
    }

    #[derive(Default)]
    struct Row(HashMap<(Scope, &'static str), Fact<'static>>);
    impl Facts for Row {
        fn get(&self, var: VarId) -> Fact<'_> {
            let name = crate::vars::variables(var.scope)[var.index as usize].name;
            self.0
                .get(&(var.scope, name))
                .copied()
                .unwrap_or(Fact::Null)
        }
    }

    fn eval(src: &str, facts: &[((Scope, &'static str), Fact<'static>)]) -> Tri {
        let c = compile(src, &[Scope::Person, Scope::Household], &Vocab)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        c.eval(&Row(facts.iter().copied().collect()))
    }

    const P: Scope = Scope::Person;

    #[test]
    fn integer_arithmetic_compares_and_propagates_missing_answers() {
        let h = Scope::Household;
        let crowded = [
            ((h, "miembros"), Fact::Int(7)),
            ((h, "dormitorios"), Fact::Int(2)),
        ];
        assert_eq!(
            eval("hogar.miembros > 3 * hogar.dormitorios", &crowded),
            Tri::True
        );
        assert_eq!(
            eval("hogar.miembros - 1 > 3 * hogar.dormitorios", &crowded),
            Tri::False
        );
        assert_eq!(eval("2 + hogar.miembros * 2 == 16", &crowded), Tri::True);
        assert_eq!(
            eval("hogar.miembros > 3 * hogar.dormitorios", &crowded[..1]),
            Tri::Unknown
        );
        let err = compile("persona.sexo + 1 > 2", &[P], &Vocab)
            .map(|_| ())
            .unwrap_err();
        assert!(err.message.contains("no es un número"), "{err}");
        let c = compile("hogar.miembros > 3 * hogar.dormitorios", &[h], &Vocab).unwrap();
        assert_eq!(c.sql(), "(hogar.miembros > (3 * hogar.dormitorios))");
    }

    #[test]
    fn evaluates_with_three_valued_logic() {
        let woman_30 = [
            ((P, "sexo"), Fact::Text("mujer")),
            ((P, "edad"), Fact::Int(30)),
        ];
        assert_eq!(
            eval(
                "persona.sexo == 'mujer' && persona.edad >= 25 && persona.edad <= 64",
                &woman_30
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                "persona.sexo == 'hombre' && persona.controles_prenatales >= 4",
                &woman_30
            ),
            Tri::False
        );
        assert_eq!(
            eval("persona.controles_prenatales >= 4", &woman_30),
            Tri::Unknown
        );
        assert_eq!(
            eval(
                "persona.controles_prenatales >= 4 || persona.edad > 20",
                &woman_30
            ),
            Tri::True
        );
        assert_eq!(eval("!(persona.edad < 18)", &woman_30), Tri::True);
        assert_eq!(eval("has(persona.seguro_salud)", &woman_30), Tri::False);
        assert_eq!(
            eval(
                "persona.seguro_salud in ['ips', 'privado']",
                &[((P, "seguro_salud"), Fact::Text("ips"))]
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                "'tekopora' in persona.programas",
                &[((P, "programas"), Fact::Text("pani tekopora"))]
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                "'pani' in persona.programas",
                &[((P, "programas"), Fact::Text("tekopora"))]
            ),
            Tri::False
        );
        assert_eq!(
            eval(
                "persona.discapacidad",
                &[((P, "discapacidad"), Fact::Bool(true))]
            ),
            Tri::True
        );
        assert_eq!(eval("persona.discapacidad == false", &[]), Tri::Unknown);
        assert_eq!(
            eval(
                "hogar.miembros > 5",
                &[((Scope::Household, "miembros"), Fact::Int(6))]
            ),
            Tri::True
        );
        assert_eq!(
            eval("persona.edad in [0, 1]", &[((P, "edad"), Fact::Int(1))]),
            Tri::True
        );
    }

    fn error(src: &str) -> String {
        compile(src, &[Scope::Person], &Vocab)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn refuses_bad_rules_with_a_position_and_a_reason() {
        assert!(error("persona.nacionalidad == 'py'")
            .contains("campo desconocido «persona.nacionalidad»"));
        assert!(error("persona.seguro_salud == 'fonasa'").contains("código desconocido «fonasa»"));
        assert!(error("persona.edad >= 'veinte'").contains("se compara con un número"));
        assert!(error("persona.sexo < 'mujer'").contains("sólo se compara con == o !="));
        assert!(error("hogar.miembros > 3").contains("no está disponible"));
        assert!(error("persona.edad >= ").contains("expresión incompleta"));
        assert!(error("persona.edad >= 18 )").contains("sobra texto"));
        assert!(
            error("persona.programas == 'pani'").contains("use «'código' in persona.programas»")
        );
        assert!(error("edad > 3").contains("nombre desconocido «edad»"));
        let e = compile(
            "persona.edad > 3 && persona.x == 1",
            &[Scope::Person],
            &Vocab,
        )
        .unwrap_err();
        assert_eq!(e.offset, 20, "points at the unknown field");
    }

    #[test]
    fn renders_sql_with_the_same_meaning() {
        let c = compile("persona.sexo == 'mujer' && !(persona.edad < 18) || 'pani' in persona.programas || has(persona.seguro_salud) && persona.seguro_salud in ['ips', 'privado']", &[Scope::Person], &Vocab).unwrap();
        assert_eq!(
            c.sql(),
            "((((persona.sexo = 'mujer') AND (NOT (persona.edad < 18))) OR list_contains(string_split(persona.programas, ' '), 'pani')) OR ((persona.seguro_salud IS NOT NULL) AND (persona.seguro_salud IN ('ips', 'privado'))))"
        );
    }

    #[test]
    fn records_the_variables_read() {
        let c = compile(
            "persona.edad > 3 && persona.edad < 9 && persona.sexo == 'mujer'",
            &[Scope::Person],
            &Vocab,
        )
        .unwrap();
        assert_eq!(c.variables().len(), 2);
    }
}
