"""The figures as CSV text (pure): UTF-8 with a BOM, nested figures as dotted names."""

import csv
import io


def flatten(value, prefix=""):
    """Nested figures as ``[(dotted name, value)]``; lists of rows are left out."""
    rows = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            rows += flatten(item, name + ".")
        elif not isinstance(item, list):
            rows.append((name, item))
    return rows


def to_csv(header, rows):
    """UTF-8 CSV text (with a BOM so that spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return "\ufeff" + out.getvalue()
