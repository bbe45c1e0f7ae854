"""The post-purchase message sequence: outbox, dispatcher and send job, e-mail and SMS, unsubscribe."""
