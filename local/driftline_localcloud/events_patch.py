"""Two EventBridge behaviours LocalStack's open-source provider lacks.

- Step Functions targets with an input transformer: LocalStack names each execution
  after the event's ``id`` unless the target has a constant ``Input``; with an
  ``InputTransformer`` the transformed input has no ``id`` and every delivery fails
  (``Failed to deliver to target: 'id'``). AWS names such executions itself; here they
  get a fresh unique name, as with ``Input``.
- Disabled rules: ``DisableRule`` records the state, but events still matched the rule
  and reached its targets. As on AWS, a disabled rule now matches nothing.
"""

from __future__ import annotations

from typing import Any

from driftline_localcloud.import_hooks import after_import

TARGET_MODULE = "localstack.services.events.target"
PROVIDER_MODULE = "localstack.services.events.provider"


def _patch() -> None:
    from localstack.services.events import target
    from localstack.utils.strings import long_uid

    sender = target.StatesTargetSender
    if getattr(sender, "_driftline_patched", False):
        return
    original = sender.send_event

    def send_event(self: Any, event: Any, trace_header: Any) -> None:
        if self.target.get("InputTransformer") and isinstance(event, dict) and "id" not in event:
            self.service = "stepfunctions"
            self.client.start_execution(
                stateMachineArn=self.target["Arn"],
                name=long_uid(),
                input=target.to_json_str(event),
            )
            return
        original(self, event, trace_header)

    sender.send_event = send_event
    sender._driftline_patched = True


def _skip_disabled_rules() -> None:
    from localstack.aws.api.events import RuleState
    from localstack.services.events import provider

    events = provider.EventsProvider
    if getattr(events, "_driftline_patched", False):
        return
    original = events._process_rules

    def process_rules(self: Any, rule: Any, *args: Any, **kwargs: Any) -> None:
        if rule.state == RuleState.DISABLED:
            return
        original(self, rule, *args, **kwargs)

    events._process_rules = process_rules
    events._driftline_patched = True


def patch_when_imported() -> None:
    after_import(TARGET_MODULE, _patch)
    after_import(PROVIDER_MODULE, _skip_disabled_rules)
