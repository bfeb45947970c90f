"""The security evaluation: eavesdroppers against frozen links, and wiretap data as files.

``wiretap``   frames through a wiretap channel: bits, nonces, x, Bob's and Eve's outputs.
``scenarios`` the attack scenarios, one record each in :data:`~.scenarios.SCENARIOS`.
``attack``    the attack runner (``commgan attack``): config, budgets, :func:`~.attack.run_attack`.
``report``    the attack table, plot and result files.
``archive``   the wiretap ``.npz`` format and its reader (:func:`~.archive.load_wiretap`).
``export``    the archive writer (``commgan export``) and :func:`~.export.make_wiretap_data`.
``scoring``   BER, interval and verdict of any decoder (:func:`~.scoring.score_decoder`).
"""
