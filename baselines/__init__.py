"""The four built-in baselines, each a stage table (Table 1 style) registered through the
``scalesearch.baselines`` entry-point group, exactly as a third-party plug-in would."""
