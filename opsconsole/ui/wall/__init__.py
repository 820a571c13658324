"""The read-only wall display (`opsconsole --wall`): a full-screen window
that rotates between a few big-type pages and never offers a control."""
