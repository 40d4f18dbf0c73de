"""The pull feed: the outbox's events, in feed order (app.events.feed)."""

from typing import Annotated, Any

from pydantic import ConfigDict, Field, WithJsonSchema

from app.erp.api.framework import endpoint
from app.erp.api.schemas import RequestModel, ResponseModel
from app.events.feed import read_feed
from app.events.schemas import EVENT_SCHEMAS, envelope
from app.web import MAX_INT

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def event_schema_name(event_type: str) -> str:
    """The name of an event type's envelope schema under components.schemas."""
    return f"Event.{event_type}"


class EventsQuery(RequestModel):
    model_config = ConfigDict(extra="ignore")

    after: int = Field(0, ge=0, le=MAX_INT, description=(
        "The cursor: `next_cursor` of the previous page; 0 (the default) starts at the "
        "beginning."))
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
                       description=f"At most this many events (1 to {MAX_LIMIT}).")


EventList = Annotated[list[dict[str, Any]], WithJsonSchema({
    "type": "array",
    "items": {"oneOf": [{"$ref": f"#/components/schemas/{event_schema_name(event_type)}"}
                        for event_type in sorted(EVENT_SCHEMAS)]},
})]


class EventsPage(ResponseModel):
    events: EventList = Field(description="Event envelopes, as the webhooks carry them.")
    next_cursor: int = Field(ge=0, description="Pass as `after` to read on; the same cursor "
                             "when there was nothing new.")
    has_more: bool = Field(description="More events wait after this page.")


@endpoint("GET", "/events", query=EventsQuery, response=EventsPage, tag="Events",
          summary="Read the event feed")
def list_events(query: EventsQuery) -> EventsPage:
    """The outbox's events after the cursor, oldest first, in an order that never changes: an
    event that commits late is placed after those already read, never before them."""
    events = read_feed(query.after, query.limit + 1)
    page = events[:query.limit]
    return EventsPage(
        events=[envelope(event) for event in page],
        next_cursor=page[-1].feed_position if page else query.after,
        has_more=len(events) > query.limit,
    )
