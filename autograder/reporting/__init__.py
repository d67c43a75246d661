"""What grading produces for people: feedback pages, the instructor's report, grade exports,
the similarity page, and math typeset for them offline."""
