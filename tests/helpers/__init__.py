"""What the tests share: real media (videos), WAV checks (wavcheck), real server processes
(servers), raw contract calls (server_calls), and the PyAV open counter (open_counter/, a
PYTHONPATH folder for subprocesses). Import them as `tests.helpers.<module>`."""
