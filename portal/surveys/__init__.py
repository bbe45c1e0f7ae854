"""Surveys: NPS and CSAT invitations timed from the delivery, one-tap answers, rewards and reports."""
