"""Teams and trust: the login (``login``), personal accounts (``accounts``) and what each role may do
(``access``), the audit trail (``audit``), a participant erased on request (``erase``) and retention
(``retention``)."""
