"""Chapter 7's experiments: GRUs that hear (spoken digits), compose (Bach chorales) and watch
signals (forecasting and anomaly detection), each against a baseline that is not a network."""
