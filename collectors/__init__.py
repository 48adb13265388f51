"""Collectors: each turns one metric or inventory source into servers and samples or summaries.

Sources without aggregation (CSV import, the demo simulation) produce a
:class:`rightsizer.summaries.SampleGrid` that is summarised with numpy.
"""
