"""Dealers: maintenance links between owners' gateways and dealers (販売店), and later the
dealer console. Only the domain operations exist so far (services.py); importing this
package registers the account-deletion hook that releases an account's gateways."""
from blueprints.dealers import services  # noqa: F401  (registers the deletion hook)
