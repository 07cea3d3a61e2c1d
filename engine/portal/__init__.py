"""The applicant's and staff's portal beside the case path: saved drafts and the message centre.

Drafts keep an unsent application; the message centre is fed by the case events it follows
(it subscribes to the spine in ``engine.subscribers``), so the case path knows nothing of it.
"""
