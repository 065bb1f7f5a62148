"""Processes that are not the HTTP service: `scan` today; stream consumers and Ray/Spark jobs
next. Layer: surfaces; imports anything below the surfaces."""
