"""The paper's experiments at CPU scale: Section 5.3 (Fig. 5–6) and Table 2. Each caches its work and resumes."""
