"""rightsizer: right-sizes government-cloud servers per 平度 第十三条.

The stable public surface is re-exported here; everything else is internal.
"""

__version__ = "0.1.0"
