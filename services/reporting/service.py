"""The reporting Nameko service: entrypoints only.

Reporting keeps the permanent event store, so it consumes every event type of the
catalogue: one batch handler per type (each its own queue,
``evt-<producer>-<type>--reporting.<method>``), written out below; a contract test
checks that every contract naming reporting as a consumer has one. Each takes a batch
of events (``@handles_batch``), validates them, and keeps and projects them together
(one pass of the projector with whatever the other handlers brought meanwhile); an
invalid event or one the projection rules fail on takes the per-message retry and
dead-letter path alone.
"""

from nameko.timer import timer

from services.common import contracts
from services.common.batching import handles_batch
from services.common.dependencies import LogContext
from services.reporting import handlers
from services.reporting.projector import ProjectorProvider

DRAIN_INTERVAL_S = 2.0


class ReportingService:
    name = "reporting"

    projector = ProjectorProvider()
    log_context = LogContext()

    def _keep(self, bodies, contract):
        return handlers.keep_bodies(self.projector, bodies, contract)

    @timer(interval=DRAIN_INTERVAL_S)
    def project_pending(self):
        """Project events kept while another instance held the projector lease."""
        self.projector.drain()

    @handles_batch(contracts.REQUEST_RECEIVED)
    def request_received(self, bodies):
        """Keep request.received in the event store and project it."""
        return self._keep(bodies, contracts.REQUEST_RECEIVED)

    @handles_batch(contracts.RESIDENT_REGISTRY_UPDATED)
    def resident_registry_updated(self, bodies):
        """Keep resident.registry_updated in the event store and project it."""
        return self._keep(bodies, contracts.RESIDENT_REGISTRY_UPDATED)

    @handles_batch(contracts.CASE_OPENED)
    def case_opened(self, bodies):
        """Keep case.opened in the event store and project it."""
        return self._keep(bodies, contracts.CASE_OPENED)

    @handles_batch(contracts.CASE_ASSIGNED)
    def case_assigned(self, bodies):
        """Keep case.assigned in the event store and project it."""
        return self._keep(bodies, contracts.CASE_ASSIGNED)

    @handles_batch(contracts.CASE_ACCEPTED)
    def case_accepted(self, bodies):
        """Keep case.accepted in the event store and project it."""
        return self._keep(bodies, contracts.CASE_ACCEPTED)

    @handles_batch(contracts.CASE_ACTION_RECORDED)
    def case_action_recorded(self, bodies):
        """Keep case.action_recorded in the event store and project it."""
        return self._keep(bodies, contracts.CASE_ACTION_RECORDED)

    @handles_batch(contracts.CASE_REQUEST_LINKED)
    def case_request_linked(self, bodies):
        """Keep case.request_linked in the event store and project it."""
        return self._keep(bodies, contracts.CASE_REQUEST_LINKED)

    @handles_batch(contracts.CASE_ESCALATED)
    def case_escalated(self, bodies):
        """Keep case.escalated in the event store and project it."""
        return self._keep(bodies, contracts.CASE_ESCALATED)

    @handles_batch(contracts.CASE_SLA_BREACHED)
    def case_sla_breached(self, bodies):
        """Keep case.sla_breached in the event store and project it."""
        return self._keep(bodies, contracts.CASE_SLA_BREACHED)

    @handles_batch(contracts.CASE_REFERRED)
    def case_referred(self, bodies):
        """Keep case.referred in the event store and project it."""
        return self._keep(bodies, contracts.CASE_REFERRED)

    @handles_batch(contracts.CASE_REFERRAL_ANSWERED)
    def case_referral_answered(self, bodies):
        """Keep case.referral_answered in the event store and project it."""
        return self._keep(bodies, contracts.CASE_REFERRAL_ANSWERED)

    @handles_batch(contracts.CASE_RESIDENT_UNREACHED)
    def case_resident_unreached(self, bodies):
        """Keep case.resident_unreached in the event store: the trace shows who was not told."""
        return self._keep(bodies, contracts.CASE_RESIDENT_UNREACHED)

    @handles_batch(contracts.REFERRAL_SENT)
    def referral_sent(self, bodies):
        """Keep referral.sent (what left for the agency) in the event store: the trace shows it."""
        return self._keep(bodies, contracts.REFERRAL_SENT)

    @handles_batch(contracts.REFERRAL_ANSWERED)
    def referral_answered(self, bodies):
        """Keep referral.answered (an agency's answer) in the event store: the trace shows it."""
        return self._keep(bodies, contracts.REFERRAL_ANSWERED)

    @handles_batch(contracts.CASE_RESOLVED)
    def case_resolved(self, bodies):
        """Keep case.resolved in the event store and project it."""
        return self._keep(bodies, contracts.CASE_RESOLVED)

    @handles_batch(contracts.CASE_CLOSED)
    def case_closed(self, bodies):
        """Keep case.closed in the event store and project it."""
        return self._keep(bodies, contracts.CASE_CLOSED)

    @handles_batch(contracts.CASE_REOPENED)
    def case_reopened(self, bodies):
        """Keep case.reopened in the event store and project it."""
        return self._keep(bodies, contracts.CASE_REOPENED)

    @handles_batch(contracts.CASE_CANCELLED)
    def case_cancelled(self, bodies):
        """Keep case.cancelled in the event store and project it."""
        return self._keep(bodies, contracts.CASE_CANCELLED)

    @handles_batch(contracts.VOLUNTEER_TEAM_FORMED)
    def program_volunteer_team_formed(self, bodies):
        """Keep program.volunteer_team_formed in the event store and project it."""
        return self._keep(bodies, contracts.VOLUNTEER_TEAM_FORMED)

    @handles_batch(contracts.VOLUNTEER_JOINED)
    def program_volunteer_joined(self, bodies):
        """Keep program.volunteer_joined in the event store and project it."""
        return self._keep(bodies, contracts.VOLUNTEER_JOINED)

    @handles_batch(contracts.SOCIAL_ORGANISATION_CULTIVATED)
    def program_social_organisation_cultivated(self, bodies):
        """Keep program.social_organisation_cultivated in the event store and project it."""
        return self._keep(bodies, contracts.SOCIAL_ORGANISATION_CULTIVATED)

    @handles_batch(contracts.DONATION_RECEIVED)
    def program_donation_received(self, bodies):
        """Keep program.donation_received in the event store and project it."""
        return self._keep(bodies, contracts.DONATION_RECEIVED)

    @handles_batch(contracts.AID_DISTRIBUTED)
    def program_aid_distributed(self, bodies):
        """Keep program.aid_distributed in the event store and project it."""
        return self._keep(bodies, contracts.AID_DISTRIBUTED)

    @handles_batch(contracts.ACTIVITY_HELD)
    def program_activity_held(self, bodies):
        """Keep program.activity_held in the event store and project it."""
        return self._keep(bodies, contracts.ACTIVITY_HELD)

    @handles_batch(contracts.PROGRAM_RECORD_CORRECTED)
    def program_record_corrected(self, bodies):
        """Keep program.record_corrected and project it: the figures use the corrected value."""
        return self._keep(bodies, contracts.PROGRAM_RECORD_CORRECTED)

    @handles_batch(contracts.STATION_ROSTER_PUBLISHED)
    def station_roster_published(self, bodies):
        """Keep station.roster_published in the event store and project it."""
        return self._keep(bodies, contracts.STATION_ROSTER_PUBLISHED)

    @handles_batch(contracts.MESSAGE_SENT)
    def message_sent(self, bodies):
        """Keep message.sent in the event store and project it."""
        return self._keep(bodies, contracts.MESSAGE_SENT)

    @handles_batch(contracts.MESSAGE_DELIVERED)
    def message_delivered(self, bodies):
        """Keep message.delivered in the event store and project it."""
        return self._keep(bodies, contracts.MESSAGE_DELIVERED)

    @handles_batch(contracts.MESSAGE_FAILED)
    def message_failed(self, bodies):
        """Keep message.failed in the event store and project it."""
        return self._keep(bodies, contracts.MESSAGE_FAILED)
