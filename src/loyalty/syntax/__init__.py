"""Text to typed AST: the grammar, the parser and the syntax tree."""
