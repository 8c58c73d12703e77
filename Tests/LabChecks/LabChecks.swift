/// The labs' checkers (docs/labs): one test class a lab, each failing until its lab is solved; `make lab-check LAB=name` runs one, `make test` none.
