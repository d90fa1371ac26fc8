"""QoS for the recorder: what its subscriptions ask for, and what the bag says was offered.

rclpy and rosbags both mirror the rmw enums, so the integer values carry over between them.
"""

from __future__ import annotations

from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)

# Subscription history depth. The DDS reader queue is the only buffer between the wire and the
# recorder's Python callback, and the callback stalls now and then: every 1 MiB the bag writer
# flushes a chunk, the garbage collector runs, a service call is answered. With keep-last, a full
# queue silently discards the oldest sample, so the depth must cover the longest stall at the
# highest rate: 5000 samples is half a second at 10 kHz, far beyond the 10-50 Hz the game
# publishes at, for at most a few MB of memory per topic.
SUBSCRIPTION_DEPTH = 5000


def _qos_time(duration: Any) -> QosTime:
    nanoseconds = int(duration.nanoseconds)
    return QosTime(nanoseconds // 1_000_000_000, nanoseconds % 1_000_000_000)


def offered_qos(profile: QoSProfile) -> Qos:
    """A publisher's QoS in the rosbags form stored in the bag metadata."""
    return Qos(
        history=QosHistory(int(profile.history)),
        depth=int(profile.depth),
        reliability=QosReliability(int(profile.reliability)),
        durability=QosDurability(int(profile.durability)),
        deadline=_qos_time(profile.deadline),
        lifespan=_qos_time(profile.lifespan),
        liveliness=QosLiveliness(int(profile.liveliness)),
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def subscription_qos(publishers: list[TopicEndpointInfo]) -> QoSProfile:
    """Pick a subscription QoS that matches every current publisher and loses nothing.

    Reliable when all publishers are reliable (a reliable reader would not match a best-effort
    writer at all), transient-local when all publishers latch (so their history reaches the bag),
    keep-last with a deep queue for bursts (see ``SUBSCRIPTION_DEPTH``).
    """
    reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=SUBSCRIPTION_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )
