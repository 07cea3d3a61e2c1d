"""Deploy-time validation: every problem of a bundle or a BPMN file, in one run.

``onething validate PATH...``, the deploy path and the studio page ask the same question:
can the engine run this, and if not, what exactly is wrong? The answer is a ``Report``
(``report``) listing every problem with its file and element id (never only the first),
whether the engine can run the diagram, and which elements it cannot run.

Entry points: ``bundle.validate_bundle_files`` and ``bundle.validate_bundle_dir`` (a
bundle, checked layer by layer), ``bpmn_file.validate_bpmn_file`` (a lone ``.bpmn`` gets
every check that needs no manifest), ``paths.validate_paths`` (whatever a path names) and
``command.run_validate`` (the CLI). The layers: ``xml_files`` (XML safety, encoding, no
DOCTYPE, no markup a browser would run), ``engine.bpmn.checks`` (BPMN and DMN schemas,
the elements the engine runs, lanes, expressions, the shape of the flow),
``manifest_checks`` (items bound to user tasks in their department's lane, the catalog and
the merged form, the examples as real applications, the names conditions read),
``loading`` (SpiffWorkflow loading the definition as a deployment would) and
``engine.bpmn.simulation`` (each example run through the diagram); ``departments`` checks
the department table.

May import: the rest of ``engine.bpmn``, ``engine.storage.settings``, ``engine.errors``, ``forms``.
"""
