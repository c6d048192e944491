"""The seed's Example 2, conditional branching.

    BEGIN WORKFLOW: Conditional_Path
      TASK A: AnalyzeSentiment()
      IF Sentiment(A) == "Positive" THEN
        TASK B: RouteToMarketing()
      ELSE
        TASK C: EscalateToSupport()
      END IF
    END WORKFLOW

The branch is plain Python ``if``: the sentiment is a recorded step, so a resumed run
takes the same branch again. Try both paths:

    legato run examples/seed/conditional.py:conditional_path -p text="I love it, great work"
    legato run examples/seed/conditional.py:conditional_path -p text="Broken again, terrible"
"""

from __future__ import annotations

import re
import sys

from legato import flow, task

# A stand-in for a sentiment model: a tiny word list is enough to show the branching.
POSITIVE_WORDS = frozenset({"love", "great", "excellent", "happy", "thanks", "amazing", "good"})
NEGATIVE_WORDS = frozenset({"broken", "terrible", "angry", "refund", "bad", "awful", "hate"})


@task(name="AnalyzeSentiment")
def analyze_sentiment(text: str) -> str:
    """Task A: classify the message as "Positive", "Negative" or "Neutral"."""
    words = re.findall(r"[a-z']+", text.lower())
    score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
    if score > 0:
        return "Positive"
    if score < 0:
        return "Negative"
    return "Neutral"


@task(name="RouteToMarketing")
def route_to_marketing(text: str) -> dict:
    """Task B: a happy customer; marketing may want to quote them."""
    return {"queue": "marketing", "action": "request testimonial", "text": text}


@task(name="EscalateToSupport")
def escalate_to_support(text: str, sentiment: str) -> dict:
    """Task C: anything not positive goes to a person in support."""
    priority = "high" if sentiment == "Negative" else "normal"
    return {"queue": "support", "priority": priority, "text": text}


@flow(name="Conditional_Path")
def conditional_path(text: str = "I love the new release, great work!") -> dict:
    sentiment = analyze_sentiment(text)
    if sentiment == "Positive":
        routed = route_to_marketing(text)
    else:
        routed = escalate_to_support(text, sentiment)
    return {"sentiment": sentiment, **routed}


if __name__ == "__main__":
    message = " ".join(sys.argv[1:]) or "I love the new release, great work!"
    print(conditional_path(message))
