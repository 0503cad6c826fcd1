"""Load any CSV into the sandbox as Salesforce records (e.g. Lead) or HubSpot objects (e.g. contacts).

A YAML mapping (see `benchmarks/x_education_mapping.yaml`) maps named columns to existing fields, with type
coercion and value maps; every other column becomes a custom field (Salesforce `Name__c`) or a custom property
(HubSpot, group `leadq_import`) of the type its values have, unless the mapping skips it. A column may also be
kept in a custom field next to its mapped field, and marked `leaky` (documentation for whoever trains a model
on the data: the loader loads it all). An optional `join` brings in a second CSV by key, e.g. a label that is
true when the key is present there. Bad values are reported per row and column and reject their row (or are
left empty, `on_error: blank`); they do not stop the load. Mapping errors name the YAML line.

Mapping keys: `object`, `delimiter`, `encoding`, `missing` (values meaning "empty"), `unmapped` (custom | skip),
`on_error` (reject | blank), `group` (HubSpot property group), `defaults` (field -> value, `{Column}` replaced
by the row's value; for required fields a dataset lacks), `columns` (column -> field name, `skip`, a spec or a
list of specs: `field`, `type`, `values`, `other`, `keep`, `custom`, `leaky`, `note`), and `join` (`file`, `on`,
`label_when_present`, `columns`).
"""

from __future__ import annotations

from sandbox.csv_loader.load import LoadReport, RowError, load_csv
from sandbox.csv_loader.mapping import CsvLoadError, CsvMapping, read_mapping

__all__ = ["CsvLoadError", "CsvMapping", "LoadReport", "RowError", "load_csv", "read_mapping"]
