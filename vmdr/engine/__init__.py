"""How vmdr drives Azure's long-running operations without waiting on them (DESIGN §3a).

An activity asks Azure for work and returns as soon as Azure accepted it (`arm.begin`); a later
activity looks at the resources (`observe`, many per call) and takes the next step. Every step
function is an *advance*: idempotent, it reads the state, issues what is missing, and reports
`Progress`. Orchestrators call an advance until it is done, with durable timers in between, and
pace writes with the ARM budgets of `budget`.
"""
