"""rightsizer: right-sizes government-cloud servers per 平度 第十三条.

The package holds the core (:mod:`.models`, :mod:`.records`, :mod:`.lifecycle`, :mod:`.format`,
:mod:`.settings`, :mod:`.calendar`), persistence (:mod:`.db`), the units of work (:mod:`.jobs`)
and the entry points (:mod:`.cli`, :mod:`.daemon`, :mod:`.web`, :mod:`.demo`); ``../shared/DESIGN.md``
draws the layers. Nothing is re-exported here: import what you use from its module.
"""

__version__ = "0.1.0"
