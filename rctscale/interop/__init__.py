"""Interoperability: move forms and responses between rctscale and the systems clinics and researchers use.

One idea per module:

- :mod:`rctscale.interop.fhir`: a form as a FHIR R4 ``Questionnaire``, responses as a ``Bundle`` of
  ``QuestionnaireResponse`` resources, and both back again.
- :mod:`rctscale.interop.redcap`: a form as a REDCap data dictionary, responses as a REDCap records
  import, and a REDCap records export back into response data.
- :mod:`rctscale.interop.labelled`: response data as SPSS ``.sav`` and Excel ``.xlsx`` with variable labels
  (item texts) and value labels (answer labels), and back with the labels kept.
- :mod:`rctscale.interop.cli`: the ``rctscale export ...`` and ``rctscale import ...`` commands.

Everything here depends on the bank model and :mod:`rctscale.data` only; imported data always pass
:func:`rctscale.data.validate_responses`, so they are checked against the form exactly as a CSV would be.
"""

from rctscale.interop.fhir import (
    FormContent,
    bundle_to_responses,
    form_content,
    form_to_questionnaire,
    questionnaire_to_form_content,
    questionnaire_url,
    read_fhir_json,
    responses_to_bundle,
)
from rctscale.interop.labelled import (
    read_labelled,
    read_sav,
    read_xlsx,
    value_labels,
    variable_labels,
    write_sav,
    write_xlsx,
)
from rctscale.interop.redcap import (
    DATA_DICTIONARY_COLUMNS,
    choices_string,
    data_dictionary,
    read_records,
    records_to_responses,
    responses_to_records,
    write_data_dictionary,
    write_records,
)

__all__ = [
    "DATA_DICTIONARY_COLUMNS", "FormContent", "bundle_to_responses", "choices_string", "data_dictionary",
    "form_content", "form_to_questionnaire", "questionnaire_to_form_content", "questionnaire_url", "read_fhir_json",
    "read_labelled", "read_records", "read_sav", "read_xlsx", "records_to_responses", "responses_to_bundle",
    "responses_to_records", "value_labels", "variable_labels", "write_data_dictionary", "write_records",
    "write_sav", "write_xlsx",
]
