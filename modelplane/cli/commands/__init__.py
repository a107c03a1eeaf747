"""The commands, one module per command name: ``modelplane run list`` is in ``run.py``,
``modelplane model version update`` in ``model/version.py`` (a group with subgroups is a
package). Each module holds a typer app named ``app``, which ``lazy_group`` imports when
the command is used."""
